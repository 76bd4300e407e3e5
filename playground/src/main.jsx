// Entry point: reads the configuration the server put in the page and mounts the app.
import './app.css';
import { createRoot } from 'react-dom/client';
import { App } from './App.jsx';

const config = JSON.parse(document.getElementById('control-tower-config').textContent);
createRoot(document.getElementById('root')).render(<App config={config} />);
